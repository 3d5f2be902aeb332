package embedded

import "runtime"

// defaultWorkers: directory reads and getxattr calls block in the kernel,
// so a few more workers than CPUs keep both cores busy.
func defaultWorkers() int { return runtime.GOMAXPROCS(0) * 2 }
