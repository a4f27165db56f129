// Where keygate may send webhooks: public http(s) destinations only, unless
// WEBHOOKS_ALLOW_PRIVATE is set (local development). Checked at create/update and again
// before every delivery. URLs are parsed by the WHATWG parser first, so the decimal, octal
// and hex spellings of an address (http://2130706433/, http://0x7f.1/) arrive here as dotted quads.

import { cidrContains, parseCidr, parseIp, type Cidr } from '../access/cidr';

const PRIVATE_RANGES: readonly Cidr[] = [
  '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.0.0.0/24',
  '192.0.2.0/24', '192.168.0.0/16', '198.18.0.0/15', '198.51.100.0/24', '203.0.113.0/24', '224.0.0.0/4', '240.0.0.0/4',
  '::/96', '::1/128', '64:ff9b::/96', '100::/64', '2001:db8::/32', 'fc00::/7', 'fe80::/10', 'ff00::/8',
  // Prefixes that carry an IPv4 address a translator or relay may turn into a private one:
  // local-use NAT64, SIIT IPv4-translated, 6to4 and Teredo. Site-local is private by definition.
  '64:ff9b:1::/48', '::ffff:0:0:0/96', '2002::/16', '2001::/32', 'fec0::/10',
].map((c) => parseCidr(c) as Cidr);

const PRIVATE_NAMES = /(?:^|\.)(?:localhost|local|internal|intranet|lan|home|corp|private|localdomain)$/i;

export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

export function checkWebhookUrl(raw: string, allowPrivate: boolean): UrlCheck {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'must be an absolute URL' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { ok: false, reason: 'must be http or https' };
  if (url.username || url.password) return { ok: false, reason: 'must not contain credentials' };
  if (allowPrivate) return { ok: true, url };
  // Every trailing dot goes: `localhost..` is still localhost to a resolver.
  const host = url.hostname.replace(/^\[|\]$/g, '').replace(/\.+$/, '');
  if (host === '' || PRIVATE_NAMES.test(host) || !host.includes('.') && !host.includes(':')) {
    return { ok: false, reason: 'must not point at a private, loopback or link-local host' };
  }
  const ip = parseIp(host);
  if (ip && PRIVATE_RANGES.some((r) => cidrContains(r, ip))) {
    return { ok: false, reason: 'must not point at a private, loopback or link-local address' };
  }
  return { ok: true, url };
}
