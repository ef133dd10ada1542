package slowpath6

import "xdhcp/handoff"

// ServeNow answers p at once on the calling goroutine and waits for its
// commit: the tests' way to drive the engine without its workers.
func (s *Server) ServeNow(p *handoff.Packet6) {
	ex := s.exs.Get().(*exchange)
	ex.pkt = p
	s.rtMu.RLock()
	ex.rt = s.rt
	detached := ex.serve()
	s.rtMu.RUnlock()
	if !detached {
		ex.finish()
	}
	s.queue.WaitCommits()
}
