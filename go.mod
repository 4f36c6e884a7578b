module github.com/replay-iam/replay

go 1.26
