/** Version reported by the CLI (`gatehouse --version`, tunnel User-Agent). Kept in step with package.json. */
export const CLIENT_VERSION = "0.1.0";
