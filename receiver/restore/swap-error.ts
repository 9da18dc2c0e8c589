/** The swap got half way (MariaDB: the tables moved, the other objects did not): the live
 *  database is no longer as it was, and the report says so. */
export class PartialSwapError extends Error {}
