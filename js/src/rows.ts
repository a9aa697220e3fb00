/**
 * Builds result rows from the flat form keel's wasm core hands over in one
 * call (see driver-wasm/src/batch.rs): a kind code per cell, numbers in a
 * Float64Array, int8 in a BigInt64Array, all text in one string sliced by
 * UTF-16 end offsets, and any other value ready-made in `others`. Doing
 * this loop in JS instead of one wasm-to-JS call per field is what makes
 * large results fast.
 *
 * @internal
 */
export function materializeRows(
  columns: string[],
  kinds: Uint8Array,
  text: string,
  ends: Uint32Array,
  nums: Float64Array,
  bigs: BigInt64Array,
  others: unknown[],
  count: number,
  asValues: boolean,
): unknown[] {
  const width = columns.length;
  const rows = new Array<unknown>(count);
  let cell = 0;
  let textAt = 0;
  let textEnd = 0;
  let num = 0;
  let big = 0;
  let other = 0;
  const next = (): unknown => {
    switch (kinds[cell++]) {
      case 0:
        return null;
      case 1:
        return false;
      case 2:
        return true;
      case 3:
        return nums[num++]!;
      case 4: {
        const start = textEnd;
        textEnd = ends[textAt++]!;
        return text.slice(start, textEnd);
      }
      case 5:
        return bigs[big++]!;
      case 6:
        return new Date(nums[num++]!);
      default:
        return others[other++];
    }
  };
  for (let r = 0; r < count; r++) {
    if (asValues) {
      const values = new Array<unknown>(width);
      for (let c = 0; c < width; c++) values[c] = next();
      rows[r] = values;
    } else {
      const row: Record<string, unknown> = {};
      for (let c = 0; c < width; c++) row[columns[c]!] = next();
      rows[r] = row;
    }
  }
  return rows;
}
