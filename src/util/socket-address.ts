/** A socket end's address, port and family (`IPv4` or `IPv6`). */
export interface SocketEndpoint {
  /** The IP address. */
  address: string;
  /** The port. */
  port: number;
  /** `IPv4` or `IPv6`. */
  family: string;
}

/**
 * One end of a socket as an object, or `undefined` when the socket no longer knows it (it
 * closed before anyone asked). The family is worked out from the address if Node left it out.
 */
export function socketAddress(
  address: string | undefined,
  port: number | undefined,
  family: string | undefined,
): SocketEndpoint | undefined {
  if (address === undefined || port === undefined) return undefined;
  return { address, port, family: family ?? (address.includes(':') ? 'IPv6' : 'IPv4') };
}
