#!/usr/bin/env node
// Launches the TypeScript CLI through tsx (no build step needed).
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../core/cli/main.ts');
process.exit(await main(process.argv.slice(2)));
