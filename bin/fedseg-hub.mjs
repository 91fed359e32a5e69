#!/usr/bin/env node
// Launches the hub CLI through tsx (no build step needed).
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../federation-hub/cli.ts');
process.exit(await main(process.argv.slice(2)));
