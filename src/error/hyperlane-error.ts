/**
 * Stable error codes raised by hyperlane-ts. Code that handles errors should branch on these,
 * never on message text.
 */
export type HyperlaneErrorCode =
  | 'HL_ERR_CONFIG'
  | 'HL_ERR_ROUTE_INVALID'
  | 'HL_ERR_ROUTE_DUPLICATE'
  | 'HL_ERR_HEADER_INVALID'
  | 'HL_ERR_SERVER_STATE'
  | 'HL_ERR_PEER_GONE'
  | 'HL_ERR_SSE_INVALID'
  | 'HL_ERR_WS_INVALID'
  | 'HL_ERR_HTTP';

/** Base class of every error hyperlane-ts throws on its own account; carries a stable `code`. */
export class HyperlaneError extends Error {
  /** Stable machine-readable code (`HL_ERR_…`). */
  readonly code: HyperlaneErrorCode;

  /**
   * @param code - stable code naming the kind of failure
   * @param message - what went wrong, naming the offending value
   * @param options - optional `cause`
   */
  constructor(code: HyperlaneErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HyperlaneError';
    this.code = code;
  }
}

/** The error a send rejects with once the client has gone away (`HL_ERR_PEER_GONE`). */
export function peerGoneError(message = 'the client has gone away'): HyperlaneError {
  return new HyperlaneError('HL_ERR_PEER_GONE', message);
}
