import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';

/** Answers true when something speaks RESP on host:port (a PING gets +PONG). */
export function redisAnswers(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

/**
 * Tests talk to a real Redis. Most machines run one on 127.0.0.1:6379; where none answers
 * (CI on a fresh machine), start a throwaway one and return its pid so teardown can stop it.
 */
export async function ensureRedis(port = 6379): Promise<{ url: string; startedPid?: number }> {
  const url = `redis://127.0.0.1:${port}`;
  if (await redisAnswers('127.0.0.1', port)) return { url };
  const which = spawnSync('which', ['redis-server']);
  if (which.status !== 0) {
    throw new Error('No Redis answers on 127.0.0.1:' + port + ' and redis-server is not installed (apt-get install redis-server)');
  }
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
    detached: true,
  });
  child.unref();
  for (let attempt = 0; attempt < 100; attempt++) {
    if (await redisAnswers('127.0.0.1', port)) return { url, startedPid: child.pid };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('redis-server was started but did not answer on port ' + port);
}
