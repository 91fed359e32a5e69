// Which hosts are this computer: localhost, 127.0.0.0/8 and ::1. Only there may the federation's
// traffic go unencrypted (plain ws://) by default — the hub's bind address and a site's hub URL both
// follow this rule (docs/security.md §2, Transport). In core/contract because the hub may import only
// that, and the site client and the app need the same answer.

/** localhost, 127.0.0.0/8 and ::1 (an IPv6 literal may come with its brackets). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || /^::ffff:127(\.\d{1,3}){3}$/.test(h);
}
