import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

// The Conclave launcher serves dist/ and writes /config.json. Under `vite dev` there is no launcher
// in front of the page, so this plugin answers /config.json itself (overridable with CONCLAVE_* env).
function devRuntimeConfig(): Plugin {
  return {
    name: 'conclave-dev-config',
    apply: 'serve',
    configureServer(server) {
      server.middlewares.use('/config.json', (_req, res) => {
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
      });
    },
  };
}

export default defineConfig({
  plugins: [react(), devRuntimeConfig()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
  },
  server: {
    host: '127.0.0.1',
    port: 5173,
    // The admin API lives on the launcher's HTTP port.
    proxy: { '/api': process.env['CONCLAVE_HTTP'] ?? 'http://127.0.0.1:8080' },
  },
});
