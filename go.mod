module github.com/rwkvgo/rwkvgo

go 1.26
