package main

func add(a, b int) int

func main() { _ = add(1, 2) }
