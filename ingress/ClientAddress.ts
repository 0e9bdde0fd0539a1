import net from 'node:net';
import type { FastifyRequest } from 'fastify';

export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** "10.0.0.0/8", "::1/128" or a bare address; throws naming what is wrong. */
export function parseCidr(text: string): Cidr {
  const [address = '', bits] = text.split('/');
  const version = net.isIP(address);
  if (version === 0) throw new Error(`"${text}" is not an IP address or CIDR`);
  const max = version === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (!/^\d+$/.test(bits ?? String(max)) || prefix > max) throw new Error(`"${text}" has an invalid prefix length (0-${max})`);
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** "::ffff:127.0.0.1" (an IPv4 client on a dual-stack socket) → "127.0.0.1". */
function plain(address: string): string {
  return address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/** Addresses whose answer is remembered; past it the memory starts over (bounded under many clients). */
const KNOWN_ADDRESSES_MAX = 4_096;

/**
 * Which address a request's per-IP bucket is keyed on, or null when the per-IP limit does not
 * apply to it. Exemptions (RATE_LIMIT_IP_EXEMPT, loopback by default) apply only to a client
 * connected directly: a request carrying X-Forwarded-For or Forwarded came through a proxy, and
 * with TRUST_PROXY a client could otherwise name an exempt address itself.
 */
export class RateLimitAddresses {
  private readonly exempt = new net.BlockList();
  private readonly known = new Map<string, boolean>();
  private readonly any: boolean;

  constructor(cidrs: string[]) {
    for (const text of cidrs) {
      const cidr = parseCidr(text);
      this.exempt.addSubnet(cidr.address, cidr.prefix, cidr.family);
    }
    this.any = cidrs.length > 0;
  }

  isExempt(address: string): boolean {
    if (!this.any) return false;
    // BlockList.check builds a SocketAddress per call (~9 µs, 2 % of the HTTP thread's time under
    // single events); a client's address repeats on every request of its connection.
    let exempt = this.known.get(address);
    if (exempt === undefined) {
      const ip = plain(address);
      const version = net.isIP(ip);
      exempt = version !== 0 && this.exempt.check(ip, version === 4 ? 'ipv4' : 'ipv6');
      if (this.known.size >= KNOWN_ADDRESSES_MAX) this.known.clear();
      this.known.set(address, exempt);
    }
    return exempt;
  }

  /** The client address to limit, or null for an exempt direct client. */
  limitedAddress(request: FastifyRequest): string | null {
    if (this.any && request.headers['x-forwarded-for'] === undefined && request.headers.forwarded === undefined) {
      const socketAddress = request.socket.remoteAddress;
      if (socketAddress !== undefined && this.isExempt(socketAddress)) return null;
    }
    return request.ip;
  }
}
