import { checkTrace } from './check.ts';

checkTrace('vcJLV');
