// Errors cross every boundary (IPC, hub protocol, CLI) as plain `{code, message}` values.
// Inside a process they are thrown as FedSegError so a catch can recover the code.

export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'INVALID_INPUT'
  | 'SHAPE_MISMATCH'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'IO_ERROR'
  | 'DB_ERROR'
  | 'CORRUPT_FILE'
  | 'UNSUPPORTED'
  | 'BACKEND_UNAVAILABLE'
  | 'CANCELLED'
  | 'TIMEOUT'
  | 'AUTH_FAILED'
  | 'VERSION_MISMATCH'
  | 'PROTOCOL_ERROR'
  | 'MESSAGE_TOO_LARGE'
  | 'BAD_UPDATE'
  | 'CONNECTION_FAILED'
  | 'NUMERIC_ERROR'
  | 'POLICY_REFUSED'
  | 'CONSENT_REQUIRED'
  | 'RATE_LIMITED'
  | 'INTERNAL';

export interface ErrorValue {
  code: ErrorCode;
  message: string;
}

export class FedSegError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'FedSegError';
  }
  toValue(): ErrorValue {
    return { code: this.code, message: this.message };
  }
}

/** Turns anything thrown into an ErrorValue suitable to send across a boundary. */
export function toErrorValue(err: unknown): ErrorValue {
  if (err instanceof FedSegError) return err.toValue();
  if (err instanceof Error) return { code: 'INTERNAL', message: err.message };
  return { code: 'INTERNAL', message: String(err) };
}

export function isErrorValue(v: unknown): v is ErrorValue {
  return typeof v === 'object' && v !== null && typeof (v as ErrorValue).code === 'string' && typeof (v as ErrorValue).message === 'string';
}
