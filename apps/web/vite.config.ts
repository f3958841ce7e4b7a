import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';
import type { ServerResponse } from 'node:http';

// The Conclave launcher serves dist/ and answers /config.json. Under `vite dev` / `vite preview` there is
// no launcher in front of the page, so this plugin answers /config.json itself (CONCLAVE_* env overrides).
function runtimeConfigFallback(): Plugin {
  const serveConfig = (_req: unknown, res: ServerResponse): void => {
    const env = process.env;
    const domain = env['CONCLAVE_DOMAIN'] ?? '127.0.0.1';
    const body = {
      wsUri: env['CONCLAVE_WS_URI'] ?? `ws://${domain}:8088`,
      domain,
      conferenceFactoryUri: env['CONCLAVE_CONFERENCE_FACTORY_URI'] ?? `sip:conference@${domain}`,
      adminApi: '/api',
    };
    res.setHeader('content-type', 'application/json');
    res.setHeader('cache-control', 'no-store');
    res.end(JSON.stringify(body));
  };
  return {
    name: 'conclave-runtime-config-fallback',
    configureServer(server) {
      server.middlewares.use('/config.json', serveConfig);
    },
    configurePreviewServer(server) {
      server.middlewares.use('/config.json', serveConfig);
    },
  };
}

export default defineConfig({
  plugins: [react(), runtimeConfigFallback()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
    // JsSIP + React are ~520 kB minified (137 kB gzipped) in one chunk; that is fine for this app.
    chunkSizeWarningLimit: 800,
  },
  preview: { host: '127.0.0.1', port: 4173 },
  server: {
    host: '127.0.0.1',
    port: 5173,
    // The admin API lives on the launcher's HTTP port.
    proxy: { '/api': process.env['CONCLAVE_HTTP'] ?? 'http://127.0.0.1:8080' },
  },
});
