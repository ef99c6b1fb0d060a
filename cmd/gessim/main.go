// Command gessim is the simulated Genesys platform GES runs against in
// local runs, demos, tests and benchmarks.
//
//	gessim serve   --fixture FILE --voice-redis HOST:PORT --auth-addr A --env-addr A --ors-addr A --admin-addr A [--publish-to URL]
//	               [--urs-addr A]... [--stats-addr A] [--conf-addr A] [--fcm-addr A] [--captcha-addr A]
//	gessim publish --fixture FILE --ges URL [--ccid ID]
package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
)

const usage = `usage:
  gessim serve   --fixture FILE --voice-redis HOST:PORT [--voice-redis-password P]
                 --auth-addr ADDR --env-addr ADDR --ors-addr ADDR --admin-addr ADDR
                 [--publish-to http://GES_INTERNAL_BASE]
                 [--urs-addr ADDR]... [--stats-addr ADDR] [--conf-addr ADDR]
                 [--fcm-addr ADDR] [--captcha-addr ADDR]
  gessim publish --fixture FILE --ges http://GES_INTERNAL_BASE [--ccid ID]

Publishing presents the service token in DESIGNER_API_TOKEN (GES' DESIGNER-API-TOKEN).
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr, log)
	case "publish":
		return publish(args[1:], stdout, stderr, log)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "gessim: unknown command %q\n%s", args[0], usage)
		return 2
	}
}
