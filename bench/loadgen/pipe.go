package loadgen

import (
	"context"
	"fmt"
	"time"
)

// pipe is the engine's view of a transport: non-blocking receive in place,
// a bounded wait, and batched transmit into buffers the transport lends.
// All its methods run on the engine goroutine.
type pipe interface {
	// recv calls fn on each frame already received (a view valid only
	// during the call) without blocking, after setting the engine's
	// arrival time, and returns how many it handled.
	recv(fn func(b []byte)) (int, error)
	// wait blocks until frames may have arrived or d has passed.
	wait(d time.Duration) error
	// txFrames lends up to len(bufs) buffers of at least FrameBufLen
	// bytes and returns how many.
	txFrames(bufs [][]byte) int
	// sendFrames sends the first len(lens) lent buffers with those
	// lengths (0: not used), takes back every lent buffer, and returns
	// how many frames the kernel took.
	sendFrames(lens []int) (int, error)
	// stop releases what the pipe started (not the transport).
	stop()
}

// xdpPipe drives an XDPSocket directly: replies are read in the UMEM and
// requests built in TX frames, on the engine goroutine alone.
type xdpPipe struct {
	s *XDPSocket
	g *Generator
}

func (p *xdpPipe) recv(fn func(b []byte)) (int, error) {
	p.g.rxAt = p.g.now()
	return p.s.recv(fn)
}

func (p *xdpPipe) wait(d time.Duration) error         { return p.s.wait(d) }
func (p *xdpPipe) txFrames(bufs [][]byte) int         { return p.s.txFrames(bufs) }
func (p *xdpPipe) sendFrames(lens []int) (int, error) { return p.s.sendFrames(lens) }
func (p *xdpPipe) stop()                              {}

// chanPipe adapts any Transport: a receiver goroutine blocks in ReadBatch
// and hands batches over a channel through a bounded pool of buffers (when
// the engine falls behind, the pool runs dry and the kernel counts drops).
type chanPipe struct {
	tr     Transport
	g      *Generator
	rxc    chan *rxBatch
	pool   chan *rxBatch
	rxErr  chan error
	cancel context.CancelFunc
	bufs   [][]byte
	frames [][]byte
	timer  *time.Timer
	// pending is a batch wait took off the channel, handled first by
	// the next recv.
	pending *rxBatch
}

func newChanPipe(ctx context.Context, g *Generator, tr Transport, batch int) *chanPipe {
	c := &chanPipe{tr: tr, g: g, rxc: make(chan *rxBatch, 32), pool: make(chan *rxBatch, 32), rxErr: make(chan error, 1),
		bufs: make([][]byte, batch), frames: make([][]byte, 0, batch), timer: time.NewTimer(time.Hour)}
	for i := range c.bufs {
		c.bufs[i] = make([]byte, FrameBufLen)
	}
	for range cap(c.pool) {
		b := &rxBatch{bufs: make([][]byte, 64), lens: make([]int, 64)}
		for i := range b.bufs {
			b.bufs[i] = make([]byte, 2048)
		}
		c.pool <- b
	}
	rctx, cancel := context.WithCancel(ctx)
	c.cancel = cancel
	go c.receive(rctx)
	return c
}

// receive reads batches until ctx ends, then reports why it stopped.
func (c *chanPipe) receive(ctx context.Context) {
	for {
		var b *rxBatch
		select {
		case b = <-c.pool:
		case <-ctx.Done():
			c.rxErr <- nil
			return
		}
		for {
			n, err := c.tr.ReadBatch(b.bufs, b.lens)
			if err != nil {
				c.rxErr <- fmt.Errorf("receive: %w", err)
				return
			}
			if ctx.Err() != nil {
				c.rxErr <- nil
				return
			}
			if n > 0 {
				b.n, b.at = n, c.g.now()
				break
			}
		}
		select {
		case c.rxc <- b:
		case <-ctx.Done():
			c.rxErr <- nil
			return
		}
	}
}

func (c *chanPipe) handle(b *rxBatch, fn func(b []byte)) int {
	c.g.rxAt = b.at
	n := b.n
	for i := range n {
		fn(b.bufs[i][:b.lens[i]])
	}
	// b belongs to the receiver again from here on.
	c.pool <- b
	return n
}

func (c *chanPipe) recv(fn func(b []byte)) (int, error) {
	n := 0
	if c.pending != nil {
		n += c.handle(c.pending, fn)
		c.pending = nil
	}
	for {
		select {
		case b := <-c.rxc:
			n += c.handle(b, fn)
		case err := <-c.rxErr:
			// Put the error back for stop, and report the receiver's end.
			c.rxErr <- err
			if err == nil {
				err = context.Canceled
			}
			return n, err
		default:
			return n, nil
		}
	}
}

func (c *chanPipe) txFrames(bufs [][]byte) int { return copy(bufs, c.bufs) }

func (c *chanPipe) wait(d time.Duration) error {
	if c.pending != nil || len(c.rxc) > 0 {
		return nil
	}
	c.timer.Reset(d)
	select {
	case c.pending = <-c.rxc:
	case err := <-c.rxErr:
		c.rxErr <- err
	case <-c.timer.C:
		return nil
	}
	if !c.timer.Stop() {
		select {
		case <-c.timer.C:
		default:
		}
	}
	return nil
}

func (c *chanPipe) sendFrames(lens []int) (int, error) {
	c.frames = c.frames[:0]
	for i, n := range lens {
		if n > 0 {
			c.frames = append(c.frames, c.bufs[i][:n])
		}
	}
	if len(c.frames) == 0 {
		return 0, nil
	}
	return c.tr.WriteBatch(c.frames)
}

func (c *chanPipe) stop() {
	c.cancel()
	<-c.rxErr
	c.timer.Stop()
}
