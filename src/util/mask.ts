/** Shows only the last `keep` characters of an access key id: AKIA…WXYZ. */
export function maskKeyId(id: string | undefined, keep = 4): string {
  if (!id) return "";
  if (id.length <= keep + 4) return id;
  return `${id.slice(0, 4)}…${id.slice(-keep)}`;
}

const KEY_ID = /\b(AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{12,124}\b/g;

/** Masks every access key id found in free text (finding ids, titles, messages). */
export function maskKeyIdsIn(text: string, keep = 4): string {
  return text.replace(KEY_ID, (m) => maskKeyId(m, keep));
}
