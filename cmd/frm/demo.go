package main

import (
	"context"
	"fmt"
	"io"
)

func demoMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "frm demo: not built yet")
	return 1
}
