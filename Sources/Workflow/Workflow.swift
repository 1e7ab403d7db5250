public enum WorkflowPlaceholder {}
