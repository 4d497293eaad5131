import type { Command, Option } from "commander";
import { UserError } from "../errors.js";
import type { Cli, RegisterAll } from "./io.js";

// Shell completion generated from the commands themselves, so it never drifts from them. zsh
// loads the bash function through bashcompinit, as many CLIs do.

interface Node {
  path: string;
  subcommands: string[];
  options: string[];
  /** Option → its allowed values (--format table|json…). */
  choices: Record<string, string[]>;
}

function walk(cmd: Command, prefix: string[], out: Node[]): void {
  const opts = (cmd.options as readonly Option[]).filter((o) => o.long);
  out.push({
    path: prefix.join(" "),
    subcommands: cmd.commands.map((c) => c.name()),
    options: opts.map((o) => o.long!),
    choices: Object.fromEntries(
      opts.filter((o) => o.argChoices?.length).map((o) => [o.long!, o.argChoices!]),
    ),
  });
  for (const c of cmd.commands) walk(c, [...prefix, c.name()], out);
}

const q = (words: string[]) => `"${words.join(" ")}"`;

export function bashCompletion(program: Command): string {
  const nodes: Node[] = [];
  walk(program, [], nodes);
  const global = nodes[0]!.options;
  const cases = nodes
    .map((n) => {
      const choiceCases = Object.entries(n.choices)
        .map(([o, c]) => `        ${o}) COMPREPLY=( $(compgen -W ${q(c)} -- "$cur") ); return ;;`)
        .join("\n");
      return [
        `    ${q([n.path]).replace(/"/g, "'")})`,
        choiceCases ? `      case "$prev" in\n${choiceCases}\n      esac` : "",
        `      words=${q([...new Set([...n.subcommands, ...n.options, ...global])])} ;;`,
      ]
        .filter(Boolean)
        .join("\n");
    })
    .join("\n");
  return `# iamwarden completion for bash (and zsh through bashcompinit).
#   bash: source <(iamwarden completion bash)
#   zsh:  autoload -U +X bashcompinit && bashcompinit && source <(iamwarden completion zsh)
_iamwarden() {
  local cur prev cmdpath words i w
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  cmdpath=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    case " $(_iamwarden_subs "$cmdpath") " in *" $w "*) cmdpath="\${cmdpath:+$cmdpath }$w" ;; esac
  done
  case "$cmdpath" in
${cases}
    *) words="" ;;
  esac
  COMPREPLY=( $(compgen -W "$words" -- "$cur") )
}
_iamwarden_subs() {
  case "$1" in
${nodes.map((n) => `    ${q([n.path]).replace(/"/g, "'")}) echo ${q(n.subcommands)} ;;`).join("\n")}
  esac
}
complete -F _iamwarden iamwarden
`;
}

export function register(program: Command, cli: Cli, registerAll: RegisterAll): void {
  program
    .command("completion <shell>")
    .description("print shell completion for bash or zsh")
    .action(async (shell: string) => {
      if (shell !== "bash" && shell !== "zsh") throw new UserError(`completion: bash or zsh, not ${shell}`);
      // Completion lists every command, so load them all (commands load lazily otherwise).
      const { Command: C } = await import("commander");
      const full = new C("iamwarden");
      for (const o of program.options as readonly Option[]) full.addOption(o);
      await registerAll(full);
      cli.stdout.write(bashCompletion(full));
    });
}
