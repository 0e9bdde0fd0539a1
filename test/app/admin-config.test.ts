import { DEFAULT_ADMIN_PORT, isLoopbackHost, readAdminConfig } from '../../app/AdminConfig.js';

const TOKEN = 'admin-token-0123456789abcdef';
const publicListener = { host: '0.0.0.0', port: 8080 };

describe('admin listener settings', () => {
  test('defaults: a separate listener on 127.0.0.1:8081, no token needed there; ephemeral when PORT is', () => {
    expect(readAdminConfig({}, publicListener)).toMatchObject({ mode: 'separate', host: '127.0.0.1', port: DEFAULT_ADMIN_PORT, token: undefined, prometheusPublic: true });
    expect(DEFAULT_ADMIN_PORT).toBe(8081);
    expect(readAdminConfig({}, { host: '0.0.0.0', port: 0 })).toMatchObject({ mode: 'separate', port: 0 });
    expect(() => readAdminConfig({}, { host: '0.0.0.0', port: 8081 })).toThrow("PORT=8081 is the admin listener's default port: set ADMIN_PORT to another port");
  });

  test('ADMIN_PORT: a number, the public port (shared), public, or off', () => {
    expect(readAdminConfig({ ADMIN_PORT: '9464' }, publicListener)).toMatchObject({ mode: 'separate', port: 9464 });
    expect(readAdminConfig({ ADMIN_PORT: '8080', ADMIN_TOKEN: TOKEN }, publicListener)).toMatchObject({ mode: 'public', host: '0.0.0.0', port: 8080 });
    expect(readAdminConfig({ ADMIN_PORT: 'PUBLIC' }, { host: '127.0.0.1', port: 0 })).toMatchObject({ mode: 'public', host: '127.0.0.1' });
    expect(readAdminConfig({ ADMIN_PORT: 'off', ADMIN_HOST: '0.0.0.0' }, publicListener)).toMatchObject({ mode: 'off' });
    expect(() => readAdminConfig({ ADMIN_PORT: '70000' }, publicListener)).toThrow('ADMIN_PORT="70000" is not a port');
  });

  test('off loopback only with a token', () => {
    expect(() => readAdminConfig({ ADMIN_HOST: '0.0.0.0' }, publicListener)).toThrow('set ADMIN_TOKEN');
    expect(readAdminConfig({ ADMIN_HOST: '0.0.0.0', ADMIN_TOKEN: TOKEN }, publicListener)).toMatchObject({ host: '0.0.0.0', token: TOKEN });
    expect(() => readAdminConfig({ ADMIN_PORT: '8080' }, publicListener)).toThrow('the public listener (HOST=0.0.0.0, ADMIN_PORT=8080) without a token');
    expect(() => readAdminConfig({ ADMIN_TOKEN: 'has a space in it, sixteen+' }, publicListener)).toThrow('ADMIN_TOKEN must be visible ASCII without spaces');
  });

  test('settings that contradict the listener layout are refused', () => {
    expect(() => readAdminConfig({ ADMIN_PORT: 'public', ADMIN_TOKEN: TOKEN, ADMIN_TLS_CERT_FILE: '/c', ADMIN_TLS_KEY_FILE: '/k' }, publicListener)).toThrow('share the public listener');
    expect(() => readAdminConfig({ ADMIN_PORT: 'public', ADMIN_TOKEN: TOKEN, PROMETHEUS_PUBLIC: 'false' }, publicListener)).toThrow('PROMETHEUS_PUBLIC=false moves Prometheus text to the admin listener');
    expect(() => readAdminConfig({ ADMIN_PORT: 'off', PROMETHEUS_PUBLIC: 'false' }, publicListener)).toThrow('set ADMIN_PORT to its own port');
  });

  test('loopback: 127.0.0.0/8, ::1 in any spelling, localhost; not the wildcard or a hostname', () => {
    for (const host of ['127.0.0.1', '127.8.9.10', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST']) expect({ host, loopback: isLoopbackHost(host) }).toEqual({ host, loopback: true });
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '::ffff:10.0.0.1', 'fe80::1', 'example.com', 'localhost.example.com', '128.0.0.1']) expect({ host, loopback: isLoopbackHost(host) }).toEqual({ host, loopback: false });
  });
});
