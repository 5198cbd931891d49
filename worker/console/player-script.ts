export const PLAYER_JS = "";
