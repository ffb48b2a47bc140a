package notifier

import "github.com/feedwatch/feedwatch/hit"

// Exports for the external benchmark, which needs the fakes and a real
// channel (a channel package imports this one, so it must be external).

type FakeQueue = fakeQueue

var (
	NewFakeQueue  = newFakeQueue
	NewFakeLedger = newFakeLedger
)

func NewFakeDead() DeadLetters { return &fakeDead{} }

func (q *fakeQueue) Add(h hit.Hit)    { q.add(h) }
func (q *fakeQueue) SettledAll() bool { return q.settledAll() }
