package main

func main() { println("hello from a minimal scratch container!") }
