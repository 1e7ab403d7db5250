public enum ContractPlaceholder {}
