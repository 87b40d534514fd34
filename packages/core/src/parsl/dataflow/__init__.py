"""The dataflow kernel: task graph, dependency resolution, launching and completion."""
