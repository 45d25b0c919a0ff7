// The `mallory` command (ARCHITECTURE.md "Command-line contract"). The CLI is thin (STYLE.md §16): it parses
// arguments, calls the library and renders; errors become one line and an exit code, never a stack trace.
import { Command, CommanderError, Option } from "@commander-js/extra-typings";
import pkg from "../../package.json" with { type: "json" };
import { summarizeCapture, formatSummaryLine, type PacketSummary } from "./pcap-summary.js";
import { demo } from "./demo.js";
import { validateCommand } from "./validate.js";
import { IMPORT_TYPES, runImport } from "./import.js";
import { simulateCommand } from "./simulate.js";
import { attacksCommand } from "./attacks.js";
import { AUDIT_FORMATS, FAIL_ON, auditCommand, terminalCounter } from "./audit.js";
import { labCommand, labVerifyCommand } from "./lab.js";
import type { LabAction } from "./lab.js";

/** Exit codes of the command-line contract: 0 success, 1 findings or invalid input, 2 usage error. */
export const ExitCode = { OK: 0, FAILURE: 1, USAGE: 2 } as const;

/** Where the program writes; tests pass collectors, main.ts passes the process streams. */
export interface CliIo {
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
  /** Whether colour is wanted before `--no-color` is considered (a TTY without NO_COLOR). */
  readonly color: boolean;
}

/** Exit code an action reports back to `runCli`; commander itself only knows about its own usage errors. */
interface ExitState {
  code: number;
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function buildProgram(io: CliIo, exit: ExitState = { code: ExitCode.OK }) {
  const program = new Command()
    .name("mallory")
    .version(pkg.version)
    .description(
      // Two lines under 80 columns: commander wraps help text at the terminal width.
      "A packet-accurate digital twin of a home or small-office network (NAT router,\n" +
        "firewalls, hosts) that plays the attacker, to show why NAT is not a firewall.",
    )
    .option("--no-color", "plain output without ANSI colours")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => {
        io.out(s);
      },
      writeErr: (s) => {
        io.err(s);
      },
    })
    .showHelpAfterError("(run mallory --help for usage)")
    .addHelpText(
      "after",
      [
        "",
        "Start here:",
        "  mallory demo                                   why NAT is not a firewall, in 60 seconds",
        "  mallory validate examples/seed-home.yaml       check a network file",
        "  mallory audit examples/seed-home.yaml          every attack from every foothold, with fixes",
        "  mallory simulate examples/seed-home.yaml --attack spoofed-source --trace",
        "  mallory attacks                                the catalogue and what each attacker can do",
        "",
        "Networks are YAML (see examples/ and schema/network.schema.json); firewalls are nftables text.",
        "Exit codes: 0 success, 1 findings at or above --fail-on or invalid input, 2 usage error.",
      ].join("\n"),
    );

  program
    .command("pcap-summary")
    .description("print one line per packet of a pcap or pcapng capture: time, length, decoded headers, comment")
    .argument("<file>", "capture file (pcap or pcapng; Ethernet or raw IP link type)")
    .option("--json", "print a JSON array with one object per packet")
    .action(async (file, options) => {
      const packets: PacketSummary[] = [];
      const streamed = !options.json;
      try {
        for await (const summary of summarizeCapture(file)) {
          if (streamed) io.out(`${formatSummaryLine(summary)}\n`);
          else packets.push(summary);
        }
      } catch (e) {
        io.err(`mallory: ${file}: ${errorMessage(e)}\n`);
        exit.code = ExitCode.FAILURE;
        return;
      }
      if (options.json) io.out(`${JSON.stringify(packets, null, 2)}\n`);
    });

  program
    .command("validate")
    .description("check a network file: print file:line:col messages for every problem, or a one-line summary")
    .argument("<network>", "network description (YAML, see examples/seed-home.yaml)")
    .action(async (file) => {
      const outcome = await validateCommand(file);
      io.out(outcome.output);
      exit.code = outcome.exitCode;
    });

  program
    .command("demo")
    .description("the seed discussion answered with packets: each attack on seed-home, then on seed-home-hardened")
    .option("--json", "print one JSON object with every step, its outcome, the deciding rule and the packets")
    .action((options) => {
      io.out(demo({ json: options.json === true, color: io.color && program.opts().color }));
    });

  program
    .command("import")
    .description("show a ruleset as Mallory understands it: chains in hook order, each rule with its origin")
    .argument("<file>", "ruleset file: nftables text (with relative includes) or `nft -j list ruleset` JSON")
    .addOption(new Option("--type <type>", "input format").choices(IMPORT_TYPES).makeOptionMandatory())
    .option("--json", 'print {"tables": [...]} with chains, rules, origins and the rules\' IR')
    .action((file, options) => {
      const r = runImport(file, options.type, options.json === true);
      if (r.err !== "") io.err(r.err);
      if (r.out !== "") io.out(r.out);
      if (r.failed) exit.code = ExitCode.FAILURE;
    });

  program
    .command("attacks")
    .description("list the attack catalogue: id, attacker capability, what it does")
    .option("--json", 'print {"attacks": [{id, capability, summary}]}')
    .action((options) => {
      io.out(attacksCommand(options.json === true));
    });

  program
    .command("simulate")
    .description("run one attack of the catalogue on a twin of the network: outcome, what stopped it, evidence")
    .argument("<network>", "network description (YAML)")
    .requiredOption("--attack <id>", "attack id (see SCENARIOS.md), e.g. spoofed-source")
    .option("--from <node>", "foothold: the node the attacker starts from")
    .option("--to <target>", "target service, NODE:PORT[/tcp|udp]")
    .option("--seed <n>", "seed of the twin (ports, ISNs)", (v) => Number(v))
    .option("--json", "print the JSON contract: attack, capability, target, outcome, stoppedBy, steps")
    .option("--trace", "print every packet walk through every node")
    .option("--pcap <dir>", "write one pcapng per segment, each packet commented with verdict and rule")
    .action(async (file, options) => {
      const r = await simulateCommand({
        network: file,
        attack: options.attack,
        json: options.json === true,
        trace: options.trace === true,
        color: io.color && program.opts().color,
        ...(options.from !== undefined ? { from: options.from } : {}),
        ...(options.to !== undefined ? { to: options.to } : {}),
        ...(options.seed !== undefined ? { seed: options.seed } : {}),
        ...(options.pcap !== undefined ? { pcap: options.pcap } : {}),
      });
      if (r.err !== "") io.err(r.err);
      if (r.out !== "") io.out(r.out);
      exit.code = r.exitCode;
    });

  program
    .command("audit")
    .description("run every applicable attack against every service, check every intent, count layers, suggest fixes")
    .argument("<network>", "network description (YAML)")
    .addOption(new Option("--format <format>", "report format").choices(AUDIT_FORMATS).default("text" as const))
    .option("--out <path>", "write the report to a file instead of stdout")
    .addOption(
      new Option("--fail-on <severity>", "exit 1 when a finding is at or above this severity").choices(FAIL_ON),
    )
    .action(async (file, options) => {
      const r = await auditCommand(file, {
        format: options.format,
        color: io.color && program.opts().color,
        ...(options.out !== undefined ? { out: options.out } : {}),
        ...(options.failOn !== undefined ? { failOn: options.failOn } : {}),
        // A counter on a terminal only: piped stderr (CI, tests) stays clean.
        ...(process.stderr.isTTY ? { onProgress: terminalCounter(io.err) } : {}),
      });
      if (r.err !== "") io.err(r.err);
      if (r.out !== "") io.out(r.out);
      exit.code = r.exitCode;
    });

  const lab = program
    .command("lab")
    .description("build the network for real in Linux network namespaces (needs root): up, status, down, verify");
  const labAction = (action: LabAction, description: string) =>
    lab
      .command(action)
      .description(description)
      .argument("<network>", "network description (YAML)")
      .action(async (file) => {
        exit.code = await labCommand({ action, network: file, json: false, out: io.out, err: io.err });
      });
  labAction("up", "create a namespace per node, veth links, addresses, routes, sysctls, rulesets and listeners");
  labAction("down", "stop the lab's processes and delete its namespaces (safe to run twice, also after a crash)");
  lab
    .command("status")
    .description("list the lab's namespaces with their addresses and its processes")
    .argument("<network>", "network description (YAML)")
    .option("--json", "print {network, up, stateFile, namespaces, processes}")
    .action(async (file, options) => {
      exit.code = await labCommand({
        action: "status",
        network: file,
        json: options.json === true,
        out: io.out,
        err: io.err,
      });
    });
  lab
    .command("verify")
    .description(
      "run each attack in the simulator and against the kernel in a fresh lab (tcpdump on every link), and compare the outcomes and the packets each link carried",
    )
    .argument("<network>", "network description (YAML)")
    .option(
      "--attack <id>",
      "only these attacks of the catalogue (see mallory attacks): repeat the option or give a comma-separated list",
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option("--json", "print {agreement, mismatches}; each row's `links` has per segment both sides' packet counts")
    .option(
      "--pcap <dir>",
      "keep the captures of every link: DIR/ATTACK/kernel/SEGMENT.pcap (tcpdump) beside DIR/ATTACK/simulated/SEGMENT.pcapng",
    )
    .action(async (file, options) => {
      exit.code = await labVerifyCommand({
        network: file,
        attack: options.attack,
        json: options.json === true,
        ...(options.pcap !== undefined ? { pcap: options.pcap } : {}),
        out: io.out,
        err: io.err,
      });
    });

  return program;
}

/** Runs the program on `argv` (arguments after the executable and script) and returns the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const exit: ExitState = { code: ExitCode.OK };
  const program = buildProgram(io, exit);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return exit.code;
  } catch (e) {
    // --help and --version also end through exitOverride, with exit code 0.
    if (e instanceof CommanderError) return e.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
    io.err(`mallory: ${errorMessage(e)}\n`);
    return ExitCode.FAILURE;
  }
}
