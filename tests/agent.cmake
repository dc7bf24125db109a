# End-to-end tests of polder-agent (filled in below).
