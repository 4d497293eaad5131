// The records of a `{"Records":[…]}` document read from its bytes, one small JSON.parse per record
// instead of one over the whole document. Parsing a document whole first makes a string of the
// whole document: at a few hundred KB that is a large-object allocation and release per file, which
// costs as much as the parse itself; a record's string is a few KB and dies young.
//
// Why the result is always that of JSON.parse of the whole document: the records are only taken
// when the bytes are exactly  PREFIX p0 "," p1 "," … "," pn "]}" [whitespace]  and every piece pi
// parses on its own. JSON's grammar is context-free, so such a document is valid JSON whose
// `Records` holds exactly the values of p0…pn, in order (and UTF-8 text cut at an ASCII byte
// decodes to the same characters as the whole). Where the document is cut does not matter for
// that: a cut in the wrong place (inside a string, or before a nested object whose first key is
// eventVersion) leaves a piece that does not parse, and then the reader parses the whole document
// as before, with its errors and line numbers (see readBytes; nothing read from the pieces is
// handed on until every piece has parsed).

const PREFIX = Buffer.from('{"Records":[');
/** Where CloudTrail starts every record; only a hint for where to cut (see above). */
const CUT = Buffer.from(',{"eventVersion":');

const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

/** Byte offsets [start, end) of each piece; undefined when the bytes are not of that shape. */
export function recordPieces(bytes: Buffer): number[] | undefined {
  if (bytes.length < PREFIX.length + 2 || bytes.compare(PREFIX, 0, PREFIX.length, 0, PREFIX.length) !== 0)
    return undefined;
  let end = bytes.length;
  while (end > 0 && isSpace(bytes[end - 1]!)) end--;
  if (end < PREFIX.length + 2 || bytes[end - 1] !== 0x7d || bytes[end - 2] !== 0x5d) return undefined;
  const first = PREFIX.length;
  const last = end - 2;
  const out: number[] = [];
  if (first === last) return out;
  let start = first;
  for (;;) {
    const cut = bytes.indexOf(CUT, start + 1);
    if (cut < 0 || cut >= last) {
      out.push(start, last);
      return out;
    }
    out.push(start, cut);
    start = cut + 1;
  }
}
