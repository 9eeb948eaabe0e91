/** Reading Prometheus text in tests. */

/** The value of one sample, e.g. `jukebox_updates_total{kind="message"}`; undefined when absent. */
export function sample(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

/** The sum of every sample of a metric whose labels include all of `labels` (e.g. `type="provision"`). */
export function total(text: string, name: string, ...labels: string[]): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m?.[1] === name && labels.every((l) => (m[2] ?? '').includes(l))) sum += Number(m[3]);
  }
  return sum;
}
