import { defineConfig } from 'vite';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * Built by the root `npm run build` into dist/console, which the key service serves at /console
 * (apps/key-service/src/console/console.routes.ts). Every file is local: no CDN, no inline script
 * (the module preload polyfill would be one), so the service's CSP needs no 'unsafe-inline'.
 */
export default defineConfig({
  root: here,
  base: '/console/',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: path.resolve(here, '../../dist/console'),
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    target: 'es2022',
    // React, React DOM and React Aria Components in one file, about 520 kB (150 kB gzipped): one screen, no split needed yet.
    chunkSizeWarningLimit: 1024,
  },
});
