export const probe = true
