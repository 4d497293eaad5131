import { z } from "zod";
import { configSchema } from "./schema.js";

/**
 * The config file's JSON Schema, from the same zod schema the loader validates with, so editors
 * complete and check exactly what iamwarden accepts. Input shape: every defaulted key optional.
 */
export function configJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any", target: "draft-2020-12" }),
    $id: "https://iamwarden.dev/schema/iamwarden.schema.json",
    title: "iamwarden configuration",
  };
}
