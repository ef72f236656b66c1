#!/usr/bin/env node
// The `pipeline` command: the TypeScript CLI run through tsx's loader, so the checkout needs
// no build step.
import { register } from 'tsx/esm/api';

register();
await import('../scripts/cli.ts');
