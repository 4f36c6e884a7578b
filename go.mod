module github.com/replay-iam/replay

go 1.26.0

require github.com/klauspost/compress v1.20.3

require golang.org/x/sync v0.24.0 // indirect
