/**
 * Our stored name for a proto enum value, by the table that maps our names onto the enum.
 * @param table - stored name → proto value
 * @param value - a value validation has already accepted (never UNSPECIFIED or UNRECOGNIZED)
 * @throws Error for a value the table lacks: a bug, since validation refused anything else
 */
export function storedNameOf<Name extends string, Value>(table: Record<Name, Value>, value: Value): Name {
  const name = (Object.keys(table) as Name[]).find((key) => table[key] === value);
  if (name === undefined) throw new Error(`No stored name for ${String(value)}`);
  return name;
}
