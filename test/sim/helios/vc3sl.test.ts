import { checkTrace } from './check.ts';

checkTrace('vc3sl');
