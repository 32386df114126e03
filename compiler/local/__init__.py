"""local: the stage on this machine. A moto server with the stage deployed through delivery's
code and the emulator's adaptations (emulator), the HTTP APIs served by a gateway (gateway),
functions in worker processes held to their roles (runtime, iamcheck), queues polled (consumers)."""
