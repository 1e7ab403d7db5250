public enum AMQPPlaceholder {}
