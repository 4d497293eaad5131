/** iamwarden's version, as package.json has it (outputs name it: SARIF, OCSF, User-Agent). */
export const VERSION = "0.2.0";
