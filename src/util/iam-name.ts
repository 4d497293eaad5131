// IAM user and group names are unique case-insensitively (`Break-Glass` and `break-glass` are
// the same user), so every comparison of a configured name with a seen one ignores case.

export const iamNameKey = (name: string): string => name.toLowerCase();

export const sameIamName = (a: string | undefined, b: string | undefined): boolean =>
  a !== undefined && b !== undefined && iamNameKey(a) === iamNameKey(b);

/** Whether `name` is among `names`, as IAM compares names. */
export const hasIamName = (names: Iterable<string>, name: string | undefined): boolean => {
  if (name === undefined) return false;
  const key = iamNameKey(name);
  for (const n of names) if (iamNameKey(n) === key) return true;
  return false;
};
