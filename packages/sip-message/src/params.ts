/**
 * Ordered `;name=value` parameter lists (URI params, header params). Order and spelling are kept so
 * a parsed value serialises back to the same text; lookups are case-insensitive.
 */
export type Params = Array<[name: string, value: string | null]>;

export function getParam(params: Params, name: string): string | null | undefined {
  const lower = name.toLowerCase();
  for (const [n, v] of params) if (n.toLowerCase() === lower) return v;
  return undefined;
}

export function hasParam(params: Params, name: string): boolean {
  return getParam(params, name) !== undefined;
}

/** Replace the value in place if present, else append. */
export function setParam(params: Params, name: string, value: string | null): void {
  const lower = name.toLowerCase();
  for (const p of params) {
    if (p[0].toLowerCase() === lower) {
      p[1] = value;
      return;
    }
  }
  params.push([name, value]);
}

export function deleteParam(params: Params, name: string): void {
  const lower = name.toLowerCase();
  for (let i = params.length - 1; i >= 0; i--) if (params[i]![0].toLowerCase() === lower) params.splice(i, 1);
}

export function formatParams(params: Params): string {
  return params.map(([n, v]) => (v === null ? `;${n}` : `;${n}=${v}`)).join('');
}

/**
 * Parse `;a=b;c;d="q;uoted"` (leading `;` optional on the first). Whitespace around `;` and `=` is
 * allowed (LWS per RFC 3261 SEMI/EQUAL). Quoted values keep their quotes.
 */
export function parseParams(text: string): Params {
  const out: Params = [];
  let i = 0;
  const n = text.length;
  const skipWs = () => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\r' || text[i] === '\n')) i++;
  };
  while (i < n) {
    skipWs();
    if (text[i] === ';') {
      i++;
      skipWs();
    }
    if (i >= n) break;
    let start = i;
    while (i < n && !';= \t'.includes(text[i]!)) i++;
    const name = text.slice(start, i);
    skipWs();
    let value: string | null = null;
    if (text[i] === '=') {
      i++;
      skipWs();
      if (text[i] === '"') {
        start = i;
        i++;
        while (i < n && text[i] !== '"') {
          if (text[i] === '\\') i++;
          i++;
        }
        if (i >= n) throw new ParamError('unterminated quoted parameter value');
        i++;
        value = text.slice(start, i);
      } else {
        start = i;
        while (i < n && !'; \t'.includes(text[i]!)) i++;
        value = text.slice(start, i);
      }
      skipWs();
    }
    if (name === '') throw new ParamError('empty parameter name');
    out.push([name, value]);
    if (i < n && text[i] !== ';') throw new ParamError(`unexpected character '${text[i]}' in parameters`);
  }
  return out;
}

export class ParamError extends Error {}
