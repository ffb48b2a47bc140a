package matcher

import "testing"

// BenchmarkTokenize: the tokenizer alone over the benchmark text.
func BenchmarkTokenize(b *testing.B) {
	d := loadBenchData(b)
	b.SetBytes(d.bytes)
	sc := scanner{ft: sharedFoldTable()}
	n := 0
	cpu0 := cpuSeconds()
	for b.Loop() {
		for _, it := range d.items {
			sc.reset(it.Summary)
			for {
				_, _, _, ok := sc.next()
				if !ok {
					break
				}
				n++
			}
		}
	}
	reportCPU(b, cpu0, d.bytes)
}
