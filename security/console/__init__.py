"""The managers' web console: server-rendered pages over the storage's typed queries, in the API's process."""
