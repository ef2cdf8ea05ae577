module github.com/rwkvgo/rwkvgo

go 1.26.0

require (
	golang.org/x/sys v0.49.0
	golang.org/x/text v0.41.0
)
