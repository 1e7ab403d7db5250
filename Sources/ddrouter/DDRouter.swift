import ArgumentParser

@main
struct DDRouter: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ddrouter",
        abstract: "Routes dual-diagnosis referrals between municipalities and regional psychiatry.",
        version: BuildInfo.version,
        subcommands: [
            RunCommand.self, CheckConfigCommand.self, TopologyCommand.self, PublishCommand.self, CasesCommand.self,
            ExplainCommand.self, ReportCommand.self, DLQCommand.self, AuditCommand.self, BackupCommand.self,
            RotateKeyCommand.self, TimersCommand.self,
        ]
    )
}

enum BuildInfo {
    static let version = "0.1.0"
}
