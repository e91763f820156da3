// The svcunit executable: everything lives in SvcUnitCLI so tests can run commands in-process.
import SvcUnitCLI

await SvcUnit.main()
