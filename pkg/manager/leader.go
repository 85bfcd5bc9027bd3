package manager

// onLeader returns f guarded to run only once elected is closed, that is on
// the replica that runs the controllers. Elsewhere nobody reads the
// controllers' channels, and a send to them would block for ever; a replica
// elected later lists every ServiceAccount when its controllers start.
func onLeader(elected <-chan struct{}, f func()) func() {
	return func() {
		select {
		case <-elected:
			f()
		default:
		}
	}
}
