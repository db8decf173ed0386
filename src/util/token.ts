/**
 * RFC 9110 §5.6.2 `token`: the syntax of methods, header names, cookie names, transfer codings
 * and subprotocols. One definition, so every place that checks a token agrees.
 */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
